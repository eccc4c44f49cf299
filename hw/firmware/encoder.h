/* Quadrature encoder on INT0/INT1, decoded x4 (every edge of A and B). */
#ifndef ROLLER_ENCODER_H
#define ROLLER_ENCODER_H
#include <stdint.h>
void encoder_init(void);
int32_t encoder_count(void);
/* Transitions where both A and B changed at once: edges came faster than
 * the interrupts could follow. */
uint16_t encoder_missed(void);
#endif
