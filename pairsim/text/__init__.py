"""Text utilities: the word-level tokenizer and GloVe reader used by the LSTM tower."""
