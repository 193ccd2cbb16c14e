"""`wacket map`: spread a batch of jobs over the fleet's machines (like GNU parallel --sshlogin)."""
