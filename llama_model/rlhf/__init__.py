"""RLHF for Llama 2 (SPEC §6): rejection sampling (V1-V4), Ghost Attention (from V3), PPO (V5)."""
