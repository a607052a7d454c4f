//! Step-wise translation from each spec version to the internal model.
