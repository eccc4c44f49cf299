/* The UART at BOARD_BAUD, 8N1, with interrupt-driven ring buffers. */
#ifndef ROLLER_UART_H
#define ROLLER_UART_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
void uart_init(void);
/* Queues all n bytes, or none when they do not fit now. */
bool uart_try_send(const uint8_t *data, size_t n);
/* Queues all n bytes, waiting for room (n <= UART_TX_SIZE). */
void uart_send(const uint8_t *data, size_t n);
/* The next received byte, or -1. */
int uart_receive(void);
bool uart_has_input(void);
#endif
