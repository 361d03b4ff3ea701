/* The i8042 keyboard controller, as much of it as a guest needs: the reset line (command 0xFE
 * or an output-port write with bit 0 clear ends the VM with a reset), the configuration byte,
 * and answers to the self-tests so Linux's driver either finds a controller quickly or gives
 * up. No keyboard or mouse is attached: device commands get no reply. */
#include <string.h>

#include "common/log.h"
#include "vm/bus.h"
#include "vm/kvm.h"
#include "vm/legacy.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64

#define STS_OBF 0x01		/* output buffer full */
#define STS_SYS 0x04		/* system flag: passed self-test */
#define STS_CMD 0x08		/* last write was a command */

#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_RESET 0xfe

#define CTR_AUX_DISABLED 0x20
#define CTR_KBD_DISABLED 0x10
#define CTR_SYS 0x04

static void reply(struct i8042 *c, uint8_t v)
{
	if (c->out_len < sizeof(c->out))
		c->out[c->out_len++] = v;
}

/* Returns true when the command asks for a reset. */
static bool command(struct i8042 *c, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		reply(c, c->cmd_byte);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		c->pending_cmd = cmd;	/* the data byte follows on port 0x60 */
		break;
	case CMD_SELF_TEST:
		reply(c, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		reply(c, 0x00);	/* interface OK */
		break;
	case CMD_AUX_DISABLE:
		c->cmd_byte |= CTR_AUX_DISABLED;
		break;
	case CMD_AUX_ENABLE:
		c->cmd_byte &= (uint8_t)~CTR_AUX_DISABLED;
		break;
	case CMD_KBD_DISABLE:
		c->cmd_byte |= CTR_KBD_DISABLED;
		break;
	case CMD_KBD_ENABLE:
		c->cmd_byte &= (uint8_t)~CTR_KBD_DISABLED;
		break;
	case CMD_READ_OUTPORT:
		reply(c, 0x01);	/* reset line high (not asserted) */
		break;
	case CMD_RESET:
		return true;
	default:
		/* 0xF0-0xFF pulse output lines; bit 0 low (even values) is the reset line. */
		if (cmd >= 0xf0 && !(cmd & 1))
			return true;
		log_debug("i8042: command %#x ignored", cmd);
	}
	return false;
}

/* A data byte: the argument of a pending command, or a byte for the (absent) keyboard. */
static bool data(struct i8042 *c, uint8_t v)
{
	uint8_t cmd = c->pending_cmd;

	c->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		c->cmd_byte = v;
		break;
	case CMD_WRITE_OUTPORT:
		return !(v & 1);
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
		reply(c, v);	/* echoed as if the device had sent it */
		break;
	default:
		break;		/* to the keyboard or mouse: nobody answers */
	}
	return false;
}

static void i8042_access(void *dev, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	struct i8042 *c = dev;
	bool reset = false;

	pthread_mutex_lock(&c->lock);
	if (!is_write && off == 0) {
		d[0] = c->out_len ? c->out[0] : 0;
		if (c->out_len)
			memmove(c->out, c->out + 1, --c->out_len);
	} else if (!is_write) {
		d[0] = (uint8_t)((c->out_len ? STS_OBF : 0) | STS_SYS | (c->pending_cmd ? STS_CMD : 0));
	} else if (off == 0) {
		reset = data(c, d[0]);
	} else {
		reset = command(c, d[0]);
	}
	if (!is_write)
		memset(d + 1, 0xff, len - 1);
	pthread_mutex_unlock(&c->lock);
	if (reset)
		kvm_stop(c->k, VM_EXIT_RESET, "i8042 reset");
}

static void port_data(void *dev, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	i8042_access(dev, 0, d, len, is_write);
}

static void port_cmd(void *dev, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	i8042_access(dev, 1, d, len, is_write);
}

int i8042_init(struct i8042 *c, struct vm_kvm *k, struct husk_err **err)
{
	*c = (struct i8042){ .k = k, .cmd_byte = CTR_SYS | CTR_AUX_DISABLED };
	pthread_mutex_init(&c->lock, NULL);
	if (bus_add(&k->pio, I8042_DATA, 1, port_data, c, "i8042-data", err) < 0 ||
	    bus_add(&k->pio, I8042_CMD, 1, port_cmd, c, "i8042-cmd", err) < 0)
		return -(*err)->code;
	return 0;
}
