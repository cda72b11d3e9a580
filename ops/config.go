package ops

import "fmt"

// ModelConfig is a model architecture's key list: which tensors a checkpoint of that kind has,
// grouped into components (clip_l, clip_g, vae, diffuser, ...), in the order sd-mecha's YAML
// lists them (the order of its output files).
type ModelConfig struct {
	ID         string
	Components []string
	Keys       []KeySpec

	index map[string]int // key or alias -> index in Keys
}

// KeySpec describes one key of a config.
type KeySpec struct {
	Name      string
	Component string
	Shape     []int
	DType     DType
	Optional  bool
	Aliases   []string
}

func (c *ModelConfig) init() error {
	c.index = make(map[string]int, len(c.Keys))
	comps := map[string]bool{}
	for _, comp := range c.Components {
		comps[comp] = true
	}
	for i, k := range c.Keys {
		if !comps[k.Component] {
			return fmt.Errorf("config %s: key %s names unknown component %q", c.ID, k.Name, k.Component)
		}
		if _, dup := c.index[k.Name]; dup {
			return fmt.Errorf("config %s: key %s listed twice", c.ID, k.Name)
		}
		c.index[k.Name] = i
	}
	for i, k := range c.Keys {
		for _, a := range k.Aliases {
			if j, dup := c.index[a]; dup && j != i {
				return fmt.Errorf("config %s: alias %s of %s is already a key or alias", c.ID, a, k.Name)
			}
			c.index[a] = i
		}
	}
	return nil
}

// Key returns the spec of a key, also when name is one of its aliases.
func (c *ModelConfig) Key(name string) (*KeySpec, bool) {
	if c.index == nil {
		if err := c.init(); err != nil {
			return nil, false
		}
	}
	i, ok := c.index[name]
	if !ok {
		return nil, false
	}
	return &c.Keys[i], true
}

// Has reports whether the config has the component.
func (c *ModelConfig) Has(component string) bool {
	for _, comp := range c.Components {
		if comp == component {
			return true
		}
	}
	return false
}
