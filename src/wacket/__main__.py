from wacket.cli.entry import main

main()
