"""Machines that join the fleet with `laneway agent`: the protocol, credentials, membership,
the server-side driver (`driver.py`) and the agent (`agent.py`)."""
