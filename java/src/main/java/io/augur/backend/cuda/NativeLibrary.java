package io.augur.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads libaugur_launch.so (java/src/main/native/augur_launch.c, class-path resource
 * cuda/libaugur_launch.so) once, for {@link NativeLaunch} and {@link Nvtx}. Loading it touches no
 * driver: NativeLaunch looks for libcuda.so.1 itself, so NVTX ranges work on the CPU path too.
 */
final class NativeLibrary {
    private NativeLibrary() {}

    static final String RESOURCE = "/cuda/libaugur_launch.so";
    private static final String ERROR = load();

    /** Null when the library is loaded, else why not. */
    static String error() { return ERROR; }

    private static String load() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")
                || !System.getProperty("os.arch", "").matches("amd64|x86_64")) {
            return "libaugur_launch.so is built for Linux x86-64 only";
        }
        try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) return "this build has no " + RESOURCE.substring(1) + " (no C compiler when it was built)";
            Path file = Files.createTempFile("augur-launch-", ".so");
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            System.load(file.toAbsolutePath().toString());
            return null;
        } catch (IOException | UnsatisfiedLinkError | SecurityException e) {
            return "cannot load " + RESOURCE.substring(1) + ": " + e;
        }
    }
}
