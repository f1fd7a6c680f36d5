"""The shop's OrderFeed under the subscriber-manager state machine, on the topics its triggers send to."""

from __future__ import annotations

from shop.feed import OrderFeed

from bcastsim.stateful import SubscriberManagerMachine
from conftest import SQL_FILES


class OrderFeedMachine(SubscriberManagerMachine):
    manager_factory = OrderFeed
    sql_files = tuple(SQL_FILES)


TestOrderFeed = OrderFeedMachine.TestCase
