package io.basalt.node.cli;

import io.basalt.vdisk.Sizes;
import picocli.CommandLine;

/** Accepts {@code 10G}, {@code 512M}, {@code 4K} or bytes; the error names the bad value. */
public final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        try {
            return Sizes.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
