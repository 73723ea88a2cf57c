// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nlshim.c	LD_PRELOAD stand-in for the kernel's tc netlink, so that the
 *		tc side of vmpolice can be tested without the module.
 *
 * Requests about qdiscs, classes, filters, chains and actions sent on a
 * NETLINK_ROUTE socket never reach the kernel.  They are appended to
 * the file $NLSHIM_OUT, and answered:
 *   - a dump, with the messages in the file $NLSHIM_IN, then NLMSG_DONE;
 *   - anything else, with an ACK carrying error -$NLSHIM_ERRNO (0 if
 *     unset) and, if $NLSHIM_EXTACK is set, that extack message.
 * Everything else (e.g. RTM_GETLINK to resolve device names) goes to the
 * kernel as usual.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define MAX_FDS		64

static struct shim_fd {
	int	fd;
	char	*buf;		/* one pending datagram */
	size_t	len;
} fds[MAX_FDS];

static int (*real_socket)(int, int, int);
static int (*real_close)(int);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int,
			      const struct sockaddr *, socklen_t);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *,
				socklen_t *);

static void __attribute__((constructor)) shim_init(void)
{
	real_socket = dlsym(RTLD_NEXT, "socket");
	real_close = dlsym(RTLD_NEXT, "close");
	real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	real_sendto = dlsym(RTLD_NEXT, "sendto");
	real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
	real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
}

static struct shim_fd *shim_find(int fd)
{
	int i;

	for (i = 0; i < MAX_FDS; i++)
		if (fds[i].fd == fd && fds[i].fd > 0)
			return &fds[i];
	return NULL;
}

int socket(int domain, int type, int protocol)
{
	int fd = real_socket(domain, type, protocol);
	int i;

	if (fd >= 0 && domain == AF_NETLINK && protocol == NETLINK_ROUTE) {
		for (i = 0; i < MAX_FDS; i++) {
			if (fds[i].fd <= 0) {
				fds[i].fd = fd;
				fds[i].len = 0;
				break;
			}
		}
	}
	return fd;
}

int close(int fd)
{
	struct shim_fd *s = shim_find(fd);

	if (s) {
		free(s->buf);
		memset(s, 0, sizeof(*s));
	}
	return real_close(fd);
}

static int is_tc(__u16 type)
{
	return (type >= RTM_NEWQDISC && type <= RTM_GETTFILTER) ||
	       (type >= RTM_NEWACTION && type <= RTM_GETACTION) ||
	       (type >= RTM_NEWCHAIN && type <= RTM_GETCHAIN);
}

static void shim_append(struct shim_fd *s, const void *data, size_t len)
{
	s->buf = realloc(s->buf, s->len + NLMSG_ALIGN(len));
	if (!s->buf)
		abort();
	memset(s->buf + s->len, 0, NLMSG_ALIGN(len));
	memcpy(s->buf + s->len, data, len);
	s->len += NLMSG_ALIGN(len);
}

static __u32 shim_portid(int fd)
{
	struct sockaddr_nl sa = {};
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	return sa.nl_pid;
}

static void shim_reply_dump(struct shim_fd *s, const struct nlmsghdr *req)
{
	const char *in = getenv("NLSHIM_IN");
	struct nlmsghdr done = {
		.nlmsg_len = NLMSG_LENGTH(sizeof(int)),
		.nlmsg_type = NLMSG_DONE,
		.nlmsg_flags = NLM_F_MULTI,
	};
	__u32 portid = shim_portid(s->fd);
	char buf[sizeof(done) + sizeof(int)] = {};
	size_t start = s->len;

	if (in && *in) {
		FILE *f = fopen(in, "r");
		char chunk[65536];
		size_t n;

		if (!f) {
			perror(in);
			exit(99);
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			shim_append(s, chunk, n);
		fclose(f);
	}
	/* the messages come from a file: make them answer this request */
	while (start + sizeof(struct nlmsghdr) <= s->len) {
		struct nlmsghdr *h = (void *)(s->buf + start);

		if (h->nlmsg_len < sizeof(*h))
			break;
		h->nlmsg_seq = req->nlmsg_seq;
		h->nlmsg_pid = portid;
		h->nlmsg_flags |= NLM_F_MULTI;
		start += NLMSG_ALIGN(h->nlmsg_len);
	}
	done.nlmsg_seq = req->nlmsg_seq;
	done.nlmsg_pid = portid;
	memcpy(buf, &done, sizeof(done));
	shim_append(s, buf, sizeof(buf));
}

static void shim_reply_ack(struct shim_fd *s, const struct nlmsghdr *req)
{
	const char *err = getenv("NLSHIM_ERRNO");
	const char *msg = getenv("NLSHIM_EXTACK");
	size_t mlen = msg ? strlen(msg) + 1 : 0;
	size_t len = NLMSG_LENGTH(sizeof(struct nlmsgerr)) +
		     (msg ? NLA_HDRLEN + NLA_ALIGN(mlen) : 0);
	char *buf = calloc(1, NLMSG_ALIGN(len));
	struct nlmsghdr *h = (void *)buf;
	struct nlmsgerr *e = NLMSG_DATA(h);

	h->nlmsg_len = len;
	h->nlmsg_type = NLMSG_ERROR;
	h->nlmsg_flags = NLM_F_CAPPED;
	h->nlmsg_seq = req->nlmsg_seq;
	h->nlmsg_pid = shim_portid(s->fd);
	e->error = err ? -atoi(err) : 0;
	e->msg = *req;
	if (msg) {
		struct nlattr *a = (void *)(e + 1);

		h->nlmsg_flags |= NLM_F_ACK_TLVS;
		a->nla_type = NLMSGERR_ATTR_MSG;
		a->nla_len = NLA_HDRLEN + mlen;
		memcpy(a + 1, msg, mlen);
	}
	shim_append(s, buf, len);
	free(buf);
}

/* Returns 1 if the request was taken here, 0 if it is for the kernel. */
static int shim_send(struct shim_fd *s, const char *data, size_t len)
{
	const struct nlmsghdr *h = (const void *)data;
	const char *out = getenv("NLSHIM_OUT");

	if (len < sizeof(*h) || !is_tc(h->nlmsg_type))
		return 0;

	if (out && *out) {
		FILE *f = fopen(out, "a");

		if (!f) {
			perror(out);
			exit(99);
		}
		fwrite(data, 1, len, f);
		fclose(f);
	}
	if ((h->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP)
		shim_reply_dump(s, h);
	else
		shim_reply_ack(s, h);
	return 1;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_fd *s = shim_find(fd);
	size_t len = 0, i;
	char *data;
	ssize_t ret;

	if (!s)
		return real_sendmsg(fd, msg, flags);

	for (i = 0; i < msg->msg_iovlen; i++)
		len += msg->msg_iov[i].iov_len;
	data = malloc(len ? len : 1);
	for (len = 0, i = 0; i < msg->msg_iovlen; i++) {
		memcpy(data + len, msg->msg_iov[i].iov_base,
		       msg->msg_iov[i].iov_len);
		len += msg->msg_iov[i].iov_len;
	}
	ret = shim_send(s, data, len) ? (ssize_t)len :
	      real_sendmsg(fd, msg, flags);
	free(data);
	return ret;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags,
	       const struct sockaddr *to, socklen_t tolen)
{
	struct shim_fd *s = shim_find(fd);

	if (s && shim_send(s, buf, len))
		return len;
	return real_sendto(fd, buf, len, flags, to, tolen);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	return sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_fd *s = shim_find(fd);
	size_t done = 0, i;

	if (!s || !s->len)
		return real_recvmsg(fd, msg, flags);

	for (i = 0; i < msg->msg_iovlen && done < s->len; i++) {
		size_t n = msg->msg_iov[i].iov_len;

		if (n > s->len - done)
			n = s->len - done;
		memcpy(msg->msg_iov[i].iov_base, s->buf + done, n);
		done += n;
	}
	if (msg->msg_name && msg->msg_namelen >= sizeof(struct sockaddr_nl)) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

		memcpy(msg->msg_name, &sa, sizeof(sa));
		msg->msg_namelen = sizeof(sa);
	}
	msg->msg_flags = done < s->len ? MSG_TRUNC : 0;
	done = (flags & MSG_TRUNC) ? s->len : done;
	if (!(flags & MSG_PEEK)) {
		free(s->buf);
		s->buf = NULL;
		s->len = 0;
	}
	return done;
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
		 struct sockaddr *from, socklen_t *fromlen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = from,
		.msg_namelen = fromlen ? *fromlen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct shim_fd *s = shim_find(fd);
	ssize_t ret;

	if (!s || !s->len)
		return real_recvfrom(fd, buf, len, flags, from, fromlen);
	ret = recvmsg(fd, &msg, flags);
	if (fromlen)
		*fromlen = msg.msg_namelen;
	return ret;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	return recvfrom(fd, buf, len, flags, NULL, NULL);
}
