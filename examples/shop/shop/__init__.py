"""The shop's client side: how its pages share Realtime channels."""
