/* vsc_hex.h: hex digits, for the fixture runner's payloads and the agent's data. */
#ifndef VSC_HEX_H
#define VSC_HEX_H

/* 0-15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for anything else. */
int vsc_hex_digit(char c);

#endif
