package io.augur.backend;

/** Element types a backend stores. Ids and lengths are int32; everything else is fp32. */
public enum DType { F32, I32 }
