"""Checkers over histories and models: delivery, payload shapes, rollout, backoff, convergence."""

from bcastsim.check.history import (
    Anomaly,
    AnomalyExample,
    ClientTrace,
    DeliveryHistory,
    DeliveryReport,
    Interval,
    Sent,
    check_delivery,
)

__all__ = [
    "Anomaly",
    "AnomalyExample",
    "ClientTrace",
    "DeliveryHistory",
    "DeliveryReport",
    "Interval",
    "Sent",
    "check_delivery",
]
