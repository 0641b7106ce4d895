// SPDX-License-Identifier: GPL-2.0
/*
 * Workers, holders and children; see ksm_procs.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "ksm_util.h"

int ksmt_chan_open(struct ksmt_chan *ch)
{
	if (pipe(ch->up))
		return -errno;
	if (pipe(ch->down)) {
		int err = -errno;

		close(ch->up[0]);
		close(ch->up[1]);
		return err;
	}
	return 0;
}

void ksmt_chan_close(struct ksmt_chan *ch)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (ch->up[i] >= 0)
			close(ch->up[i]);
		if (ch->down[i] >= 0)
			close(ch->down[i]);
		ch->up[i] = -1;
		ch->down[i] = -1;
	}
}

void ksmt_chan_worker(struct ksmt_chan *ch)
{
	close(ch->up[0]);
	close(ch->down[1]);
	ch->up[0] = -1;
	ch->down[1] = -1;
}

void ksmt_chan_parent(struct ksmt_chan *ch)
{
	close(ch->up[1]);
	close(ch->down[0]);
	ch->up[1] = -1;
	ch->down[0] = -1;
}

int ksmt_send(int fd, char c)
{
	ssize_t n = write(fd, &c, 1);

	if (n == 1)
		return 0;
	return n < 0 ? -errno : -EIO;
}

int ksmt_recv(int fd, char *c, int timeout_s)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int ret;

	do {
		ret = poll(&pfd, 1, timeout_s * 1000);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return -ETIMEDOUT;
	n = read(fd, c, 1);
	if (n == 1)
		return 0;
	return n < 0 ? -errno : -EPIPE;
}

int ksmt_waitpid(pid_t pid, int timeout_s)
{
	double deadline = ksmt_now() + timeout_s;
	int status;
	pid_t ret;

	for (;;) {
		ret = waitpid(pid, &status, WNOHANG);
		if (ret == pid)
			return status;
		if (ret < 0)
			return -errno;
		if (ksmt_now() > deadline)
			return -ETIMEDOUT;
		ksmt_nap_ms(2);
	}
}

void ksmt_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int ksmt_child_status(pid_t pid)
{
	int status = ksmt_waitpid(pid, KSMT_SCAN_TIMEOUT);

	if (status < 0) {
		ksmt_kill(pid);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void ksmt_holder(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			int n, char *const *at)
{
	char *base[8];
	bool good;
	int j, i;
	char cmd;

	if (n > 8)
		_exit(2);
	for (j = 0; j < n; j++) {
		size_t len = ls[j]->npages * KSMT_PAGE_SIZE;

		if (!at) {
			base[j] = ksmt_layout_map(ls[j]);
			if (base[j] == MAP_FAILED)
				_exit(2);
			continue;
		}
		base[j] = mmap(at[j], len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (base[j] != at[j] ||
		    (madvise(base[j], len, MADV_NOHUGEPAGE) && errno != EINVAL))
			_exit(2);
		ksmt_layout_fill(ls[j], base[j]);
		if (ksmt_mergeable(base[j], ls[j]->npages))
			_exit(2);
	}
	if (ksmt_send(ch->up[1], 'r'))
		_exit(2);
	for (;;) {
		int err = ksmt_recv(ch->down[0], &cmd, 600);

		good = true;
		for (j = 0; j < n; j++) {
			i = ksmt_layout_check(ls[j], base[j]);
			if (i >= 0) {
				fprintf(stderr,
					"# holder %d: region %d page %d differs\n",
					(int)getpid(), j, i);
				good = false;
			}
		}
		if (err || cmd == 'q')
			_exit(good ? 0 : 1);
		if (ksmt_send(ch->up[1], good ? 'v' : 'x'))
			_exit(2);
	}
}

/* A free address range of npages, reserved PROT_NONE. */
char *ksmt_reserve(size_t npages)
{
	return mmap(NULL, npages * PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

pid_t ksmt_spawn_holder(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			int n)
{
	return ksmt_spawn_holder_at(ch, ls, n, NULL);
}

pid_t ksmt_spawn_holder_at(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			   int n, char *const *at)
{
	pid_t pid;
	char c;
	int err;

	err = ksmt_chan_open(ch);
	if (err)
		return err;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		ksmt_chan_close(ch);
		return err;
	}
	if (pid == 0) {
		ksmt_chan_worker(ch);
		ksmt_holder(ch, ls, n, at);
	}
	ksmt_chan_parent(ch);
	err = ksmt_recv(ch->up[0], &c, KSMT_SCAN_TIMEOUT);
	if (!err && c != 'r')
		err = -EBADMSG;
	if (err) {
		ksmt_kill(pid);
		ksmt_chan_close(ch);
		return err;
	}
	return pid;
}

int ksmt_holder_verify(struct ksmt_chan *ch)
{
	char c;
	int err;

	err = ksmt_send(ch->down[1], 'v');
	if (!err)
		err = ksmt_recv(ch->up[0], &c, KSMT_SCAN_TIMEOUT);
	if (!err && c != 'v')
		err = -EBADMSG;
	return err;
}
