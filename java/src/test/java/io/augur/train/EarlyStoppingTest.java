package io.augur.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EarlyStoppingTest {

    @Test
    void stopsAfterPatienceEpochsWithoutEnoughGain() {
        EarlyStopping es = new EarlyStopping(2, 0.001);
        assertTrue(es.update(1, 0.70));
        assertTrue(es.update(2, 0.72));
        assertFalse(es.update(3, 0.7205)); // +0.0005 < minDelta
        assertFalse(es.shouldStop());
        assertFalse(es.update(4, 0.719));
        assertTrue(es.shouldStop());
        assertEquals(2, es.bestEpoch());
        assertEquals(0.72, es.bestValue(), 0);
        assertEquals(2, es.epochsWithoutImprovement());
    }

    @Test
    void improvementResetsTheCount() {
        EarlyStopping es = new EarlyStopping(2, 0.0);
        es.update(1, 0.60);
        es.update(2, 0.59);
        assertEquals(1, es.epochsWithoutImprovement());
        assertTrue(es.update(3, 0.61));
        assertEquals(0, es.epochsWithoutImprovement());
        assertFalse(es.shouldStop());
        assertEquals(3, es.bestEpoch());
    }

    @Test
    void equalValueCountsWithZeroMinDelta() {
        EarlyStopping es = new EarlyStopping(1, 0.0);
        es.update(1, 0.65);
        assertTrue(es.update(2, 0.65));
        assertEquals(2, es.bestEpoch());
    }

    @Test
    void nanNeverImproves() {
        EarlyStopping es = new EarlyStopping(1, 0.0);
        assertFalse(es.update(1, Double.NaN));
        assertEquals(-1, es.bestEpoch());
        assertTrue(Double.isNaN(es.bestValue()));
        assertTrue(es.shouldStop());
        es = new EarlyStopping(3, 0.0);
        es.update(1, 0.7);
        assertFalse(es.update(2, Double.NaN));
        assertEquals(0.7, es.bestValue(), 0);
    }

    @Test
    void restoreContinuesTheCount() {
        EarlyStopping es = EarlyStopping.restore(3, 0.0, 4, 0.73, 2);
        assertFalse(es.shouldStop());
        assertFalse(es.update(7, 0.72));
        assertTrue(es.shouldStop());
        assertEquals(4, es.bestEpoch());
    }

    @Test
    void rejectsBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> new EarlyStopping(0, 0.0));
        assertThrows(IllegalArgumentException.class, () -> new EarlyStopping(1, -0.1));
        assertThrows(IllegalArgumentException.class, () -> new EarlyStopping(1, Double.NaN));
    }
}
