//! PLACEHOLDER until branch wt-tail is merged.
