/* x4 quadrature decoding: each interrupt on an edge of A or B reads both
 * lines; the step from the previous state (Gray code 00 01 11 10 forward)
 * gives +1 or -1, and a jump over two states is counted as missed. */
#include "encoder.h"
#include "board.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/atomic.h>

#define MISSED 2 /* marks an impossible step in the table */

/* [previous state << 2 | new state], state = A << 1 | B; forward is
 * 00 -> 01 -> 11 -> 10 -> 00. */
static const int8_t steps[16] = {
    0, +1, -1, MISSED,
    -1, 0, MISSED, +1,
    +1, MISSED, 0, -1,
    MISSED, -1, +1, 0,
};

static volatile int32_t count;
static volatile uint16_t missed;
static volatile uint8_t state;

static uint8_t read_state(void)
{
    uint8_t pins = BOARD_ENC_PIN;
    return (uint8_t)(((pins >> BOARD_ENC_A_BIT) & 1) << 1 |
                     ((pins >> BOARD_ENC_B_BIT) & 1));
}

static void on_edge(void)
{
    uint8_t now = read_state();
    int8_t step = steps[state << 2 | now];
    state = now;
    if (step == MISSED)
        missed++;
    else
        count += step;
}

/* One handler for both lines. Two handlers with the same body let gcc
 * fold them: INT0's called INT1's, whose RETI turned interrupts back on
 * inside INT0's; edges faster than the handler then nested it until the
 * stack ran down through .bss (found in the emulated bench). */
ISR(INT0_vect)
{
    on_edge();
}

ISR(INT1_vect, ISR_ALIASOF(INT0_vect));

void encoder_init(void)
{
    PORTD |= _BV(BOARD_ENC_A_BIT) | _BV(BOARD_ENC_B_BIT); /* pull-ups */
    EICRA = _BV(ISC00) | _BV(ISC10); /* any logical change */
    state = read_state();
    EIMSK = _BV(INT0) | _BV(INT1);
}

int32_t encoder_count(void)
{
    int32_t c;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        c = count;
    }
    return c;
}

uint16_t encoder_missed(void)
{
    uint16_t m;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        m = missed;
    }
    return m;
}
