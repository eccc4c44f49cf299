/* Where the parts are wired on an Arduino Uno / Nano (ATmega328P, 16 MHz);
 * docs/BUILD-A-ROLLER.md has the same table for the person wiring it. The
 * emulated bench (hw/firmware/bench/) drives the same pins. */
#ifndef ROLLER_BOARD_H
#define ROLLER_BOARD_H

/* UART: 115200 baud, what rollmap uses unless told otherwise (and all
 * `rollmap devices` probes, `auto` and `usb:` sources can use). At 16 MHz
 * it comes out 2.1 % fast (UBRR 16 with U2X: 117647 baud), as on every
 * Arduino; 250000 would be exact but every host would need to be told. */
#define BOARD_BAUD 115200UL

/* Quadrature encoder: A on PD2 (INT0, Arduino D2), B on PD3 (INT1, D3). */
#define BOARD_ENC_PIN PIND
#define BOARD_ENC_A_BIT 2
#define BOARD_ENC_B_BIT 3
/* "Tender here" button to ground on PD4 (D4), internal pull-up. */
#define BOARD_BUTTON_PIN PIND
#define BOARD_BUTTON_PORT PORTD
#define BOARD_BUTTON_BIT 4
/* Status LED on PB5 (D13, the board's own LED). */
#define BOARD_LED_DDR DDRB
#define BOARD_LED_PORT PORTB
#define BOARD_LED_BIT 5
/* HX711s on port C: left end cap DOUT PC0 (A0), PD_SCK PC1 (A1); right
 * end cap DOUT PC2 (A2), PD_SCK PC3 (A3); both RATE pins on PC4 (A4),
 * high for 80 conversions/s. */
#define BOARD_HX_PIN PINC
#define BOARD_HX_PORT PORTC
#define BOARD_HX_DDR DDRC
#define BOARD_HX_DOUT0_BIT 0
#define BOARD_HX_SCK0_BIT 1
#define BOARD_HX_DOUT1_BIT 2
#define BOARD_HX_SCK1_BIT 3
#define BOARD_HX_RATE_BIT 4
/* Pin-change interrupts on the DOUT pins wake the CPU when a conversion
 * is ready (PCINT8 = PC0, PCINT10 = PC2). */
#define BOARD_HX_PCMSK PCMSK1
#define BOARD_HX_PCIE PCIE1

#endif
