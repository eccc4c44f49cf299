/* HX711 serial interface (Avia Semiconductor HX711 datasheet): DOUT low
 * means a conversion is ready; each PD_SCK pulse shifts out one bit, MSB
 * first, valid 0.1 us after the rising edge; the 25th pulse selects channel
 * A, gain 128 for the next conversion. PD_SCK high for over 60 us powers
 * the chip down, so interrupts (a few us each) may run during a pulse. */
#include "hx711.h"
#include "board.h"

#include <avr/io.h>
#include <util/delay.h>

#define DATA_BITS 24
#define GAIN_128_PULSES 1
#define SIGN_BIT (1UL << 23)

static const uint8_t dout_bit[2] = {BOARD_HX_DOUT0_BIT, BOARD_HX_DOUT1_BIT};
static const uint8_t sck_bit[2] = {BOARD_HX_SCK0_BIT, BOARD_HX_SCK1_BIT};

/* A read cut short by a reset of the AVR (the watchdog, a new upload)
 * leaves a chip halfway through shifting its result out, DOUT showing
 * whatever bit it had reached. Powering both down and up resets them. */
#define POWER_DOWN_US 100

void hx711_init(void)
{
    uint8_t both_sck = _BV(BOARD_HX_SCK0_BIT) | _BV(BOARD_HX_SCK1_BIT);
    BOARD_HX_DDR |= both_sck | _BV(BOARD_HX_RATE_BIT);
    BOARD_HX_PORT |= both_sck;
    _delay_us(POWER_DOWN_US);
    BOARD_HX_PORT &= (uint8_t)~both_sck;
    BOARD_HX_PCMSK |= _BV(BOARD_HX_DOUT0_BIT) | _BV(BOARD_HX_DOUT1_BIT);
    PCICR |= _BV(BOARD_HX_PCIE);
}

void hx711_set_fast(bool fast)
{
    if (fast)
        BOARD_HX_PORT |= _BV(BOARD_HX_RATE_BIT);
    else
        BOARD_HX_PORT &= (uint8_t)~_BV(BOARD_HX_RATE_BIT);
}

bool hx711_ready(uint8_t chip)
{
    return !(BOARD_HX_PIN & _BV(dout_bit[chip]));
}

/* One PD_SCK pulse; returns DOUT sampled while the clock is high. */
static uint8_t clock_pulse(uint8_t sck, uint8_t dout)
{
    BOARD_HX_PORT |= sck;
    _delay_us(1);
    uint8_t bit = (BOARD_HX_PIN & dout) != 0;
    BOARD_HX_PORT &= (uint8_t)~sck;
    _delay_us(1);
    return bit;
}

int32_t hx711_read(uint8_t chip)
{
    uint8_t sck = _BV(sck_bit[chip]), dout = _BV(dout_bit[chip]);
    uint32_t raw = 0;
    for (uint8_t i = 0; i < DATA_BITS; i++)
        raw = raw << 1 | clock_pulse(sck, dout);
    for (uint8_t i = 0; i < GAIN_128_PULSES; i++)
        clock_pulse(sck, dout);
    if (raw & SIGN_BIT)
        raw |= 0xFF000000UL; /* sign-extend the 24-bit two's complement */
    return (int32_t)raw;
}
