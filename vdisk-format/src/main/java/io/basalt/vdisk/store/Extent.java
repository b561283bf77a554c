package io.basalt.vdisk.store;

/** A byte range of a vdisk in a diff: either data or zeros (unmapped or written as zeros). */
public record Extent(long offsetBytes, long lengthBytes, boolean data) {}
