/* `seed_virtio_blk DIR` writes fuzz_virtio_blk's seed corpus: well-formed
 * requests (read, write, flush, get id, an indirect read, two chains in one
 * ring) laid out the way the harness reads its input. */
#include <endian.h>
#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PREFIX 4
#define AVAIL 0x1000
#define DATA 0x3000
#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4

static uint8_t in[PREFIX + DATA + 0x2000];
static uint8_t *ram = in + PREFIX;

static void desc(uint32_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *p = ram + table + 16 * i;

	addr = htole64(addr), len = htole32(len), flags = htole16(flags), next = htole16(next);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void hdr(uint32_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {htole32(type), 0, htole64(sector)};

	memcpy(ram + gpa, &h, sizeof(h));
}

/* avail ring: idx n, heads 0, 3, 6... */
static void avail(unsigned n)
{
	uint16_t v = htole16((uint16_t)n);

	memcpy(ram + AVAIL + 2, &v, 2);
	for (unsigned i = 0; i < n; i++) {
		v = htole16((uint16_t)(3 * i));
		memcpy(ram + AVAIL + 4 + 2 * i, &v, 2);
	}
}

/* A three-descriptor request at 3 * slot: header, data, status. */
static void request(unsigned slot, uint32_t type, uint64_t sector, uint32_t len, bool write)
{
	uint32_t h = DATA + slot * 0x800;
	unsigned d = 3 * slot;

	hdr(h, type, sector);
	desc(0, d, h, 16, F_NEXT, (uint16_t)(d + 1));
	if (len) {
		desc(0, d + 1, h + 0x100, len, F_NEXT | (write ? 0 : F_WRITE), (uint16_t)(d + 2));
		desc(0, d + 2, h + 0x700, 1, F_WRITE, 0);
	} else {
		desc(0, d + 1, h + 0x700, 1, F_WRITE, 0);
	}
}

static int save(const char *dir, const char *name, uint8_t flags)
{
	char path[512];
	FILE *f;

	in[0] = 4; /* 16 entries */
	in[1] = flags;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(in, sizeof(in), 1, f) != 1 || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	memset(in, 0, sizeof(in));
	return 0;
}

int main(int argc, char **argv)
{
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	request(0, VIRTIO_BLK_T_IN, 2, 1024, false), avail(1);
	r |= save(argv[1], "read", 0);
	request(0, VIRTIO_BLK_T_OUT, 5, 512, true), avail(1);
	r |= save(argv[1], "write", 1);
	request(0, VIRTIO_BLK_T_OUT, 5, 512, true), avail(1);
	r |= save(argv[1], "write-ro", 2);
	request(0, VIRTIO_BLK_T_FLUSH, 0, 0, false), avail(1);
	r |= save(argv[1], "flush", 0);
	request(0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, false), avail(1);
	r |= save(argv[1], "get-id", 0);
	request(0, VIRTIO_BLK_T_IN, 0, 512, false), request(1, VIRTIO_BLK_T_OUT, 1, 512, true);
	avail(2);
	r |= save(argv[1], "two", 1);
	/* an indirect table at 0x2800 holding a read of sector 3 */
	hdr(DATA, VIRTIO_BLK_T_IN, 3);
	desc(0x2800, 0, DATA, 16, F_NEXT, 1);
	desc(0x2800, 1, DATA + 0x100, 512, F_NEXT | F_WRITE, 2);
	desc(0x2800, 2, DATA + 0x700, 1, F_WRITE, 0);
	desc(0, 0, 0x2800, 48, F_INDIRECT, 0);
	avail(1);
	r |= save(argv[1], "indirect", 0);
	return r;
}
