package io.augur.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code augur} command line: generate, prepare, train, bench, export, info. */
@Command(name = "augur", mixinStandardHelpOptions = true, version = "augur 0.1.0",
        description = "Trains the CTR models DIN and DIEN (and their baselines) on the CPU or one GPU.",
        subcommands = {GenerateCommand.class, PrepareCommand.class, TrainCommand.class, BenchCommand.class, ExportCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class Augur implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(commandLine().execute(args));
    }

    /**
     * The configured command line that {@link #main} runs: bad input and bad flags found while a
     * command runs end with one line on the command's error writer ("augur train: ...") and exit
     * status 2, not a stack trace, as does a device out of memory (the arena's plan:
     * DeviceMemoryException, an IllegalStateException; any other allocation: a CudaException with
     * CUDA_ERROR_OUT_OF_MEMORY); anything else propagates.
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Augur());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean outOfMemory = ex instanceof io.augur.backend.cuda.CudaException c && c.code() == jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY;
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException || ex instanceof java.io.UncheckedIOException
                    || outOfMemory || ex.getClass().getSimpleName().equals("DataFormatException")) {
                cmd.getErr().println("augur " + cmd.getCommandName() + ": " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl;
    }
}
