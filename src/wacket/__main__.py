from wacket.cli.main import main

main()
