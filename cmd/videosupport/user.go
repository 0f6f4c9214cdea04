package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"videosupport/auth"
	"videosupport/store"
)

// runUser is the "user" subcommand: `videosupport user add -role admin
// -email a@example.com -name Amira`. The password comes from VS_PASSWORD
// or the first line of standard input, never from a flag (flags show in
// the process list and shell history).
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: videosupport user add -email EMAIL -name NAME [-role admin|agent|specialist] (password from VS_PASSWORD or stdin)")
	}
	var c config
	var email, name, role string
	fs := flag.NewFlagSet("videosupport user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&email, "email", "", "the staff member's email, used to sign in")
	fs.StringVar(&name, "name", "", "the name customers and colleagues see")
	fs.StringVar(&role, "role", store.RoleAgent, "admin, agent or specialist")
	var vars []settingVar
	for _, v := range c.vars() {
		if v.flag == "data-dir" || v.flag == "db" {
			vars = append(vars, v)
		}
	}
	if err := bindFlags(fs, vars, getenv); err != nil {
		return err
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !strings.Contains(email, "@") || strings.TrimSpace(name) == "" {
		return errors.New("user add needs -email and -name")
	}
	if role != store.RoleAdmin && role != store.RoleAgent && role != store.RoleSpecialist {
		return fmt.Errorf("-role %q: want admin, agent or specialist", role)
	}
	password := getenv("VS_PASSWORD")
	if password == "" {
		fmt.Fprintln(stderr, "password (at least 10 characters), then Enter:")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	st, err := c.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.CreateStaff(ctx, store.Staff{Email: email, Name: strings.TrimSpace(name), Role: role, PasswordHash: hash})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a staff member with email %s already exists", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s %s <%s> (%s)\n", s.Role, s.Name, s.Email, s.ID)
	return nil
}
