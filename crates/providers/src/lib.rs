//! Where the user config comes from.
