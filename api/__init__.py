"""HTTP layer: parse and validate, authorise, call one service function, dump."""
