/* UART ring buffers: the receive interrupt fills rx, the data-register-
 * empty interrupt drains tx. Indexes are 8-bit, so each ring's size is a
 * power of two up to 256 and the wrap is free. */
#include "uart.h"
#include "board.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/atomic.h>

#define TX_SIZE 256 /* two SAMPLES frames and an INFO at once */
#define RX_SIZE 32  /* host commands are 18 bytes at most */

static volatile uint8_t tx[TX_SIZE], rx[RX_SIZE];
static volatile uint8_t tx_head, tx_tail, rx_head, rx_tail;

ISR(USART_RX_vect)
{
    uint8_t byte = UDR0;
    uint8_t next = (uint8_t)((rx_head + 1) % RX_SIZE);
    if (next != rx_tail) { /* a full ring drops the byte; the CRC tells */
        rx[rx_head] = byte;
        rx_head = next;
    }
}

ISR(USART_UDRE_vect)
{
    if (tx_tail == tx_head) {
        UCSR0B &= (uint8_t)~_BV(UDRIE0);
        return;
    }
    UDR0 = tx[tx_tail];
    tx_tail = (uint8_t)(tx_tail + 1);
}

void uart_init(void)
{
    UCSR0A = _BV(U2X0);
    UBRR0 = (uint16_t)((F_CPU + 4 * BOARD_BAUD) / (8 * BOARD_BAUD) - 1); /* rounded */
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
    UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
}

static size_t tx_free(void)
{
    uint8_t used;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        used = (uint8_t)(tx_head - tx_tail);
    }
    return TX_SIZE - 1 - used;
}

static void queue(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tx[tx_head] = data[i];
        tx_head = (uint8_t)(tx_head + 1);
    }
    UCSR0B |= _BV(UDRIE0);
}

bool uart_try_send(const uint8_t *data, size_t n)
{
    if (tx_free() < n)
        return false;
    queue(data, n);
    return true;
}

void uart_send(const uint8_t *data, size_t n)
{
    while (tx_free() < n)
        ;
    queue(data, n);
}

bool uart_has_input(void)
{
    return rx_head != rx_tail;
}

int uart_receive(void)
{
    if (rx_head == rx_tail)
        return -1;
    uint8_t byte = rx[rx_tail];
    rx_tail = (uint8_t)((rx_tail + 1) % RX_SIZE);
    return byte;
}
