"""What laneway's cloud clients share, whoever uses them (cache sources, provisioners)."""
