"""Independent reference for the T5 relative-position buckets, shared by test_posenc and test_t5."""

import math

import torch


def hf_t5_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """Re-typed from transformers' T5Attention._relative_position_bucket (float32 torch)."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    large = max_exact + (torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return relative_buckets + torch.where(is_small, relative_position, large)
