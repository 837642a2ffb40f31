"""``benchmarks/bert_step_anatomy.py``: the products it times are the training step's."""

from conftest import benchmark_module


def test_the_products_are_a_training_steps_flops_counted_by_hand():
    anatomy = benchmark_module("bert_step_anatomy")
    flat, batched = anatomy.product_shapes(32, 128)
    tokens = 32 * 128
    # per block, forward: 4 projections 384 -> 384 and the feed-forward 384 -> 1536 -> 384
    dense = 2 * tokens * (4 * 384 * 384 + 2 * 384 * 1536)
    # Q K^T and P V over 32 x 12 heads of 128 x 128 scores, head size 32
    attention = 2 * (2 * 32 * 12 * 128 * 128 * 32)
    # backward: two products for each forward one; 6 blocks
    assert anatomy.flops(flat, batched) == 6 * 3 * (dense + attention) == 275_414_777_856
    assert (len(flat), len(batched)) == (6 * 6 * 3, 6 * 2 * 3)


def test_both_libraries_compute_every_product_at_its_shape():
    anatomy = benchmark_module("bert_step_anatomy")
    flat, batched = [(4, 3, 5), (5, 4, 3)], [(2, 4, 3, 4)]
    expected = [(4, 5), (5, 3), (2, 4, 4)]
    for products in (anatomy.tensorflow_products, anatomy.torch_products):
        assert [tuple(result.shape) for result in products(flat, batched)()] == expected
