package io.augur.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.URL;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.ConsoleAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.junit.jupiter.api.Test;

/** The shipped log4j2.xml, loaded into a private context (tests otherwise run on log4j2-test.xml). */
class LoggingConfigTest {

    private static Configuration load(String level) throws Exception {
        URL url = LoggingConfigTest.class.getClassLoader().getResource("log4j2.xml");
        assertNotNull(url, "log4j2.xml on the class path");
        String old = System.getProperty("augur.log.level");
        if (level == null) System.clearProperty("augur.log.level"); else System.setProperty("augur.log.level", level);
        LoggerContext ctx = new LoggerContext("augur-config-test", null, URI.create(url.toString()));
        try {
            ctx.start();
            return ctx.getConfiguration();
        } finally {
            ctx.stop();
            if (old == null) System.clearProperty("augur.log.level"); else System.setProperty("augur.log.level", old);
        }
    }

    @Test
    void infoOnStderrByDefaultWithArrowAndNettyAtWarn() throws Exception {
        Configuration c = load(null);
        assertEquals(Level.INFO, c.getRootLogger().getLevel());
        assertEquals(Level.WARN, c.getLoggerConfig("org.apache.arrow.memory.BaseAllocator").getLevel());
        assertEquals(Level.WARN, c.getLoggerConfig("io.netty.util.internal.PlatformDependent").getLevel());
        ConsoleAppender out = c.getAppender("stderr");
        assertEquals(ConsoleAppender.Target.SYSTEM_ERR, out.getTarget());
    }

    @Test
    void levelFollowsTheSystemProperty() throws Exception {
        assertEquals(Level.DEBUG, load("DEBUG").getRootLogger().getLevel());
        assertEquals(Level.WARN, load("DEBUG").getLoggerConfig("org.apache.arrow").getLevel());
    }

    @Test
    void testsRunAtWarn() {
        assertTrue(LogManager.getRootLogger().getLevel().isMoreSpecificThan(Level.WARN));
    }
}
