/* pp_err.h: the one enum of return codes used inside the project. */
#ifndef PP_ERR_H
#define PP_ERR_H

enum pp_err {
	PP_OK = 0,
	PP_EINVAL = -1,	   /* bad input: the caller's error buffer says which */
	PP_ENOMEM = -2,	   /* allocation failed */
	PP_EIO = -3,	   /* a system call failed: errno is set */
	PP_ETOOBIG = -4,   /* over a size limit */
	PP_EUSAGE = -5,	   /* bad command line or setting: exit status 2 */
	PP_EEXIT = -6,	   /* nothing wrong, but the program should exit 0 (--help) */
	PP_EAGAIN = -7,	   /* not now: try again later */
	PP_ENOTFOUND = -8, /* no such item */
	PP_ECLOSED = -9	   /* the peer ended the session cleanly */
};

#endif
