// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_guest_init - PID 1 of the small QEMU guests that the KSM guest suite
 * (scripts/vm/guests.sh) and the guest demo run inside the test VM.
 *
 * Maps SHARED + UNIQUE MiB of anonymous memory and fills it page by page.
 * The first SHARED MiB hold content that is the same in every guest (a
 * function of the page index only); the rest hold content of this guest
 * alone (a function of the guest's id and the page index). No two pages of
 * the pattern are equal, and none is zero, so on the host the guests' RAM
 * can merge exactly SHARED MiB per additional guest from the pattern.
 *
 * Talks over the first serial port, one line each way:
 *   out: "KSMG <id> ready pages=<n> shared=<n> sum=<hex>"
 *   in:  "verify"  -> "KSMG <id> verify ok|bad=<pages> sum=<hex>"
 *        "reboot"  -> overwrites the pattern with content of this boot
 *                     alone, then reboots the guest (which fills its
 *                     memory again): what merges after the reboot is
 *                     what the new boot wrote, not what the old one left
 *        "halt"    -> powers the guest off
 * A reboot shows on the port as one more "ready" line.
 *
 * Kernel command line: ksmg.id=N ksmg.shared=MIB ksmg.unique=MIB
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
#define GOLDEN		0x9e3779b97f4a7c15ULL
/* Keeps the shared and the unique kinds of content apart. */
#define SALT_SHARED	0x4b534d4753484152ULL
#define SALT_UNIQUE	0x4b534d47554e4951ULL
#define SALT_SCRUB	0x4b534d4753435242ULL

static int tty = -1;

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(tty, buf, n) < 0)
		return;
}

/* splitmix64: a different, never zero, first word for every page. */
static uint64_t page_seed(uint64_t salt, uint64_t index)
{
	uint64_t z = salt + (index + 1) * GOLDEN;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z | 1;
}

static uint64_t page_salt(unsigned long id, unsigned long page,
			  unsigned long shared_pages)
{
	if (page < shared_pages)
		return SALT_SHARED;
	return SALT_UNIQUE ^ ((uint64_t)id << 40);
}

static void fill_page(uint64_t *p, uint64_t seed)
{
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		p[w] = seed + w * GOLDEN;
}

/* Pages that differ from the pattern; *sum gets a checksum of them all. */
static unsigned long check(const char *mem, unsigned long pages,
			   unsigned long shared, unsigned long id,
			   uint64_t *sum)
{
	unsigned long i, w, bad = 0;
	uint64_t s = 0;

	for (i = 0; i < pages; i++) {
		const uint64_t *p = (const uint64_t *)(mem + i * PAGE);
		uint64_t seed = page_seed(page_salt(id, i, shared), i);
		int wrong = 0;

		for (w = 0; w < WORDS; w++) {
			wrong |= p[w] != seed + w * GOLDEN;
			s = (s ^ p[w]) * 0x100000001b3ULL;
		}
		bad += wrong;
	}
	*sum = s;
	return bad;
}

static unsigned long param(const char *cmdline, const char *key,
			   unsigned long def)
{
	const char *p = strstr(cmdline, key);

	return p ? strtoul(p + strlen(key), NULL, 0) : def;
}

static void halt(int how)
{
	sync();
	reboot(how);
	for (;;)
		pause();
}

int main(void)
{
	unsigned long id, shared, pages, i, bad;
	char cmdline[1024] = "", line[64];
	struct termios t;
	size_t len = 0;
	uint64_t sum;
	char *mem;
	int fd;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	tty = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
	if (tty < 0)
		halt(RB_POWER_OFF);
	if (tcgetattr(tty, &t) == 0) {
		t.c_lflag &= ~(ECHO | ECHONL);
		t.c_lflag |= ICANON;
		tcsetattr(tty, TCSANOW, &t);
	}
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);

		cmdline[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	id = param(cmdline, "ksmg.id=", 0);
	shared = param(cmdline, "ksmg.shared=", 16) * 256;
	pages = shared + param(cmdline, "ksmg.unique=", 8) * 256;

	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		say("KSMG %lu failed mmap of %lu pages", id, pages);
		halt(RB_POWER_OFF);
	}
	for (i = 0; i < pages; i++)
		fill_page((uint64_t *)(mem + i * PAGE),
			  page_seed(page_salt(id, i, shared), i));
	check(mem, pages, shared, id, &sum);
	say("KSMG %lu ready pages=%lu shared=%lu sum=%016llx",
	    id, pages, shared, (unsigned long long)sum);

	for (;;) {
		ssize_t n = read(tty, line + len, sizeof(line) - 1 - len);

		if (n <= 0) {
			sleep(1);
			continue;
		}
		len += n;
		line[len] = '\0';
		if (!strchr(line, '\n') && len < sizeof(line) - 1)
			continue;
		if (!strncmp(line, "verify", 6)) {
			bad = check(mem, pages, shared, id, &sum);
			if (bad)
				say("KSMG %lu verify bad=%lu sum=%016llx", id,
				    bad, (unsigned long long)sum);
			else
				say("KSMG %lu verify ok sum=%016llx", id,
				    (unsigned long long)sum);
		} else if (!strncmp(line, "reboot", 6)) {
			uint64_t salt = SALT_SCRUB ^ ((uint64_t)id << 40) ^
					(uint64_t)time(NULL) << 8;

			for (i = 0; i < pages; i++)
				fill_page((uint64_t *)(mem + i * PAGE),
					  page_seed(salt, i));
			say("KSMG %lu rebooting", id);
			halt(RB_AUTOBOOT);
		} else if (!strncmp(line, "halt", 4)) {
			say("KSMG %lu halting", id);
			halt(RB_POWER_OFF);
		}
		len = 0;
	}
}
