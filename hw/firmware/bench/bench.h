/* The emulated bench: the roller firmware running in simavr with emulated
 * HX711s, encoder and button on its pins (docs/BUILD-A-ROLLER.md, "The
 * emulated bench"). Shared between the parts (parts.c) and the program
 * (roller_bench.c). */
#ifndef ROLLER_BENCH_H
#define ROLLER_BENCH_H

#include <simavr/sim_avr.h>
#include <simavr/sim_irq.h>
#include <stdbool.h>
#include <stdint.h>

/* One emulated HX711 (Avia Semiconductor datasheet): it converts
 * continuously at 10 or 80/s (its RATE pin), pulls DOUT low when a result
 * is ready and shifts it out MSB first on PD_SCK's rising edges; the 25th
 * pulse selects channel A at gain 128 and pulls DOUT high again. */
/* An AVR input pin a part drives. */
typedef struct bench_pin {
    avr_t *avr;
    char port;
    uint8_t bit;
    avr_irq_t *irq;
    uint8_t level;
} bench_pin;

typedef struct bench_hx711 {
    bench_pin dout;
    int32_t input;            /* what the load cell gives now, counts */
    uint32_t latched;         /* the result being shifted out, 24 bits */
    bool ready;               /* a result waits to be read */
    bool sck_high;
    uint8_t pulses;           /* PD_SCK pulses since the result was ready */
    uint64_t sck_rose_at;     /* cycle */
    double period_scale;      /* its own oscillator's error */
    uint64_t next_conversion; /* cycle */
    /* what the firmware did with it */
    uint64_t conversions, reads, overwritten, wrong_gain, power_downs;
} bench_hx711;

/* The quadrature encoder: it walks the Gray sequence 00 01 11 10 toward
 * its target count, one edge at a time at a given interval. */
typedef struct bench_encoder {
    bench_pin a, b;
    int64_t position;         /* edges emitted, signed */
    int64_t target;
    uint64_t interval;        /* cycles between edges */
    uint64_t next_edge;       /* cycle */
} bench_encoder;

typedef struct bench_parts {
    avr_t *avr;
    bench_hx711 hx[2];
    bool rate_fast;           /* the RATE pin */
    bench_encoder enc;
    bench_pin button;
} bench_parts;

/* Wires the parts to the AVR's pins (hw/firmware/board.h). */
void bench_parts_attach(bench_parts *p, avr_t *avr);
/* Drives every input pin to the parts' state again (after a reset). */
void bench_parts_redrive(bench_parts *p);
/* Runs the parts up to cycle now; returns the cycle of their next event. */
uint64_t bench_parts_advance(bench_parts *p, uint64_t now);
void bench_parts_press(bench_parts *p, bool pressed);
/* Moves the encoder to target, one edge every interval cycles. */
void bench_encoder_move(bench_parts *p, int64_t target, uint64_t interval);

#endif
