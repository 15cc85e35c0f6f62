"""Reusable physics operators written with the sciml DSL."""
