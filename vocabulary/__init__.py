"""The vocabulary: the national format as data (labels, names, the phrasings the text checks read).

It imports nothing of ours, so every package (parsing, monitor, storage) may import it.
"""
