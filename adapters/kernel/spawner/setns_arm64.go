package main

// sysSetns is setns(2)'s number on linux/arm64 (the syscall package does not name it).
const sysSetns = 268
