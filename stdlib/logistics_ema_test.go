package stdlib

import (
	"reflect"
	"testing"

	"github.com/mechac/mechac/ops/opstest"
)

func TestExchangeEMAKeys(t *testing.T) {
	for _, d := range []*struct {
		out string
		in  []string
	}{
		{"model.diffusion_model.input_blocks.1.0.in_layers.2.weight", []string{"model_ema.diffusion_modelinput_blocks10in_layers2weight", "model.diffusion_model.input_blocks.1.0.in_layers.2.weight"}},
		{"model_ema.diffusion_modelout2bias", []string{"model.diffusion_model.out.2.bias", "model_ema.diffusion_modelout2bias"}},
		{"model_ema.decay", []string{"model_ema.decay"}},
		{"first_stage_model.quant_conv.weight", []string{"first_stage_model.quant_conv.weight"}},
	} {
		for _, def := range []*struct {
			f func(string) ([][]string, bool)
		}{{exchangeEMA.MapKeys}, {exchangeEMASD1.MapKeys}} {
			got, ok := def.f(d.out)
			if !ok || !reflect.DeepEqual(got, [][]string{d.in}) {
				t.Errorf("%s: %v, want %v", d.out, got, d.in)
			}
		}
	}
	if _, err := exchangeEMA.OutConfig([]string{"sdxl-sgm"}); err == nil {
		t.Error("exchange_ema accepted sdxl-sgm")
	}
	x := opstest.T([]int{2}, 1, 2)
	out := runMapped(t, exchangeEMA, "model_ema.decay", tlist(x, x))
	if !reflect.DeepEqual(out.Data, []float64{1, 2}) {
		t.Errorf("%v", out.Data)
	}
}
