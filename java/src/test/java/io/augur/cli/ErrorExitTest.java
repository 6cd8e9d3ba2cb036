package io.augur.cli;

import io.augur.backend.cuda.CudaException;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How {@link Augur#commandLine()} ends a command that throws: what a person must change (bad input, a device out of
 * memory) in one line and exit status 2; anything else, a bug, with its stack trace. No GPU: a made-up subcommand throws.
 */
class ErrorExitTest {

    @CommandLine.Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        RuntimeException toThrow;

        @Override
        public Integer call() {
            throw toThrow;
        }
    }

    private static String[] run(RuntimeException e) {
        CommandLine cl = Augur.commandLine();
        Boom boom = new Boom();
        boom.toThrow = e;
        cl.addSubcommand("boom", boom);
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute("boom");
        return new String[] {Integer.toString(code), err.toString()};
    }

    @Test
    void aDeviceOutOfMemoryIsOneLine() {
        String[] r = run(new CudaException(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(1048576 bytes)", null));
        assertEquals("2", r[0]);
        assertEquals("augur boom: cuMemAlloc(1048576 bytes): CUDA_ERROR_OUT_OF_MEMORY (2); the device has too little free memory for the planned"
                + " arena (lower the batch size)" + System.lineSeparator(), r[1]);
        String[] bad = run(new IllegalArgumentException("--batch-size: expected a positive integer"));
        assertEquals("2", bad[0]);
        assertTrue(bad[1].startsWith("augur boom: --batch-size"), bad[1]);
    }

    @Test
    void anyOtherCudaErrorKeepsItsStackTrace() {
        String[] r = run(new CudaException(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, "cuStreamSynchronize", "gemm_kernel"));
        assertNotEquals("2", r[0]);
        assertTrue(r[1].contains("CudaException: cuStreamSynchronize(gemm_kernel): CUDA_ERROR_ILLEGAL_ADDRESS") && r[1].contains("\tat "), r[1]);
    }
}
