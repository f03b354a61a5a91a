//! Attribute macros for perfkit.
