"""The reference chatbot API: enqueue work, read precomputed keys, O(1) guards. Nothing heavy."""
