//! Validation rules (errors and warnings), per spec version.
