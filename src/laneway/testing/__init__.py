"""Test helpers that ship with laneway, so any part (and its users) can test against them."""
