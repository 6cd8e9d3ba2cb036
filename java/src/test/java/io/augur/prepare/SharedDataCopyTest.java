package io.augur.prepare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real samples in the test resources ({@code shared-data/}) are the files of
 * {@code ../shared/data/}, byte for byte, wherever that folder exists (Surefire passes its place as
 * {@code augur.shared}); elsewhere there is nothing to compare with and the test is skipped.
 */
class SharedDataCopyTest {

    @Test
    void copiesMatchTheSharedFolder() throws IOException {
        Path shared = Path.of(System.getProperty("augur.shared", "../shared"), "data");
        assumeTrue(Files.isDirectory(shared), "no shared folder at " + shared + " to compare with");
        for (String sample : List.of("amazon-electronics-sample", "taobao-ad-sample")) {
            Path original = shared.resolve(sample);
            Path copy = PrepareTesting.sharedData(sample);
            List<String> names;
            try (Stream<Path> s = Files.list(original)) {
                names = s.map(p -> p.getFileName().toString()).sorted().toList();
            }
            List<String> copied;
            try (Stream<Path> s = Files.list(copy)) {
                copied = s.map(p -> p.getFileName().toString()).sorted().toList();
            }
            assertEquals(names, copied, sample);
            for (String n : names) {
                assertArrayEquals(Files.readAllBytes(original.resolve(n)), Files.readAllBytes(copy.resolve(n)), sample + "/" + n);
            }
        }
    }
}
