/* Two HX711 24-bit load-cell ADCs, bit-banged, channel A at gain 128. */
#ifndef ROLLER_HX711_H
#define ROLLER_HX711_H
#include <stdbool.h>
#include <stdint.h>

#define HX711_MAX 8388607L   /* full scale: 2^23 - 1 */
#define HX711_MIN (-8388608L)

void hx711_init(void);
/* RATE pin: true for 80 conversions/s, false for 10. */
void hx711_set_fast(bool fast);
bool hx711_ready(uint8_t chip);
/* Reads the ready conversion of chip (25 clock pulses: 24 data bits and
 * one that keeps channel A at gain 128). */
int32_t hx711_read(uint8_t chip);
#endif
