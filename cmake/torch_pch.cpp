// Translation unit that carries the torch precompiled header.
