"""The three interfaces handlers talk to; `adapters.aws` and `adapters.local` implement them."""
