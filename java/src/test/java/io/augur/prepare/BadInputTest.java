package io.augur.prepare;

import io.augur.data.DataFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static io.augur.prepare.PrepareTesting.fixture;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Empty files and wrong separators in every format: the error names the file (and for a wrong
 * separator the line and field), even with --skip-bad-rows, and no dataset.json is left behind.
 * Each case copies a valid fixture folder and replaces its main file.
 */
class BadInputTest {

    /** Copies the fixture folder {@code from} into {@code dir} and puts {@code content} into {@code file}. */
    private static Path folder(Path dir, String from, String file, String content) throws IOException {
        Files.createDirectories(dir);
        try (var s = Files.list(fixture(from))) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName()));
            }
        }
        Files.writeString(dir.resolve(file), content, StandardCharsets.UTF_8);
        return dir;
    }

    @ParameterizedTest(name = "{0}: empty {2}")
    @CsvSource({
        "log,       log,         clicks.csv",
        "movielens, movielens/ml-1m, ratings.dat",
        "movielens, movielens/ml-100k, u.data",
        "dien,      dien,        local_train_splitByUser",
        "amazon,    amazon,      reviews_Tiny_5.json",
        "taobao,    taobao,      train.csv",
    })
    void emptyFileIsNamed(String format, String from, String file, @TempDir Path tmp) throws IOException {
        Path in = folder(tmp.resolve("in"), from, file, "");
        Path input = format.equals("log") ? in.resolve(file) : in;
        PrepareOptions o = PrepareOptions.builder().skipBadRows(true).build();
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.parse(format), input, tmp.resolve("out"), o));
        assertTrue(e.getMessage().startsWith(in.resolve(file) + ": expected ") && e.getMessage().endsWith("found an empty file"),
                e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out").resolve("dataset.json")));
    }

    @ParameterizedTest(name = "{0}: {2} separated by the wrong character")
    @CsvSource(delimiter = '|', value = {
        "movielens | movielens/ml-1m | ratings.dat | 1,1,5,978300760\\n | line 1, field 'MovieID'",
        "movielens | movielens/ml-100k | u.data | 1 1 5 881250949\\n | line 1, field 'item id'",
        "dien | dien | local_train_splitByUser | 1,AU1,B001,Electronics,B002,Phones\\n | line 1, field 'user_id'",
        "taobao | taobao | train.csv | clk;userid;adgroup_id;cate_id;click_sequence\\n1;10;100;7;101\\n | line 1, field 'clk'",
    })
    void wrongSeparatorNamesLineAndField(String format, String from, String file, String content, String where, @TempDir Path tmp)
            throws IOException {
        Path in = folder(tmp.resolve("in"), from, file, content.replace("\\n", "\n"));
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.parse(format), in, tmp.resolve("out"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().startsWith(in.resolve(file) + ": " + where), e.getMessage());
    }
}
