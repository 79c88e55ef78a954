"""BatchGc: a consumer's garbage is collected between batches (young generations after each,
everything every `full_every_s`), never automatically during one, and the process's
collector is as it was once the consumer stops."""

import gc
import weakref

from services.common.consumer_base import BatchGc


class Node:
    def __init__(self) -> None:
        self.other = self


def test_automatic_collection_is_off_inside_and_restored_after():
    assert gc.isenabled()
    with BatchGc():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # what existed at start is left out of every collection
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_batchs_cyclic_garbage_is_collected_after_it():
    with BatchGc(full_every_s=3600) as batch_gc:
        node = Node()
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # a cycle: reference counting alone does not free it, nor does a collection
        batch_gc.between_batches()
        assert ref() is None


def test_what_survived_a_batch_and_died_later_waits_for_the_full_collection():
    with BatchGc(full_every_s=3600) as batch_gc:
        node = Node()
        ref = weakref.ref(node)
        batch_gc.between_batches()  # alive: moved to the oldest generation
        del node
        batch_gc.between_batches()
        assert ref() is not None  # the young generations only
        batch_gc.full_every_s = 0
        batch_gc.between_batches()
        assert ref() is None


def test_leaving_restores_a_collector_that_was_off():
    gc.disable()
    try:
        with BatchGc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
