"""Cross-cutting pieces every feature uses: types, crypto, errors, validation."""
